"""The Sen2Cor SCL classes as the counts store them, without the SQLAlchemy models: the counting
and the commands that only count import this, not db/models.py (SQLAlchemy and GeoAlchemy2 take
about 0.3 s to import, a fifth of a scheduled `refresh` of one scene)."""

from __future__ import annotations

SCL_CLASSES = range(12)
"""The Sen2Cor SCL class values, 0 to 11."""

CLASS_COLUMNS = tuple(f"class_{value}" for value in SCL_CLASSES)
"""The columns of counted_pair holding the pixels of each class, in class order: the one list
the model and the counting use (in SQL, sclzonal.class_pixels and sclzonal.pixels_of)."""
