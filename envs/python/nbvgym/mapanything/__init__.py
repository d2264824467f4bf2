"""MapAnything as NBVGym's reconstruction backbone: the worker (`nbvgym-mapanything-worker`), its
preprocessing, the offline loader of the official model, and `StandInMapAnything` for tests.

Importing this package does not import torch; the worker and the stand-in need it
(``pip install -e 'envs/python[mapanything]'``). See docs/MAPANYTHING.md.
"""
