"""The GIS layers of `sara export`: what goes in each layer (layers.py), how each format is written
(write.py), and the QGIS style of each layer (styles.py). transforms/outputs/export.py is the entry point."""
