from experiments.histogram_mnist.main import main

main()
