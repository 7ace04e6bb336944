from experiments.flow_mnist.main import main

main()
