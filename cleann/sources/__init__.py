"""Corpus readers (IMDB-style text, MovieLens) and the pinned offline artifacts."""
