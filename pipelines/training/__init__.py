"""Stage ``training``: the run's config and time split, the labelled dataset, the fit tracked in
MLflow, and the promotion of a new version over the champion."""
