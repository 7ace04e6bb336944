from experiments.bigan_mnist.main import main

main()
