"""Views of results files: terminal tables, plots, the HTML page. They read files only."""
