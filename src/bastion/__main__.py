"""``python -m bastion`` runs the command line."""

from bastion.cli import main

if __name__ == "__main__":
    main()
