from stream.cli.main import app

app(prog_name="recstream")
