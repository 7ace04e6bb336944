from experiments.gan_study.main import main

main()
