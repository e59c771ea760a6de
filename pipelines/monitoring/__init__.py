"""Stage ``monitoring``: realized performance of the predictions, feature drift against the
champion's training reference, alerts, and the HTML report."""
