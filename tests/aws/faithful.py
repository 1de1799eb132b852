"""Start the AWS-faithful layer around moto: `python tests/aws/faithful.py serve --port PORT`.

See tests/aws/README.md for the session configuration, the rules and the control API.
"""

from faithful.server import main

if __name__ == "__main__":
    main()
