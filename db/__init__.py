"""Database layer of sclzonal: settings, connections, models and migrations."""
