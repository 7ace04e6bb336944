from experiments.reproduce.main import main

main()
