from retainly.cli.app import main

main()
