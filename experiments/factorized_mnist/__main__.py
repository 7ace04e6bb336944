from experiments.factorized_mnist.main import main

main()
