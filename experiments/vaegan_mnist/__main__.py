from experiments.vaegan_mnist.main import main

main()
