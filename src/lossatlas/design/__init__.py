"""The study a config describes: validation, the grid, the rate views, the claims file, and which figures and tables it gets."""
