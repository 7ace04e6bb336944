from experiments.cyclegan_mnist.main import main

main()
