from tito.cli.main import run

run()
