from experiments.gibbs_table.main import main

main()
