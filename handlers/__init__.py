"""One module per flow; each exposes `register(application)`. bot.py wires them in order."""
