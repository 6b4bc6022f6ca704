"""Tiled prep (`wood prep --tile`): the tile grid, tile records, and whether a folder is tiled."""
