from experiments.gan_mnist.main import main

main()
