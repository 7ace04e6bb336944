from experiments.flow_2d.main import main

main()
