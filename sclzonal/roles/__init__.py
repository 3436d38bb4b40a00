"""Database roles: the owner, loader and reader roles and their privileges."""
