"""Stage ``serving``: batch scoring of the next day's schedule by the champion, and publishing
the scored day to the application's PostgreSQL table."""
