from experiments.diffusion_2d.main import main

main()
