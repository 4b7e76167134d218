"""newsarchive: archive news sites into one SQLite file, served by Datasette."""

__version__ = "0.1.0"
