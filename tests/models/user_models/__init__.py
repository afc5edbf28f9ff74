"""A tiny user package, importable as `user_models`, standing in for a team's own model code."""
