from experiments.latent_mnist.main import main

main()
