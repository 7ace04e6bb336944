from experiments.gan_mixture.main import main

main()
