-- One PostgreSQL server, separate databases: Airflow metadata, the MLflow backend store, the
-- source (OLTP) and the application that reads the predictions. Run once, on an empty volume.
CREATE DATABASE nightshift_airflow;
CREATE DATABASE nightshift_mlflow;
CREATE DATABASE nightshift_source;
CREATE DATABASE nightshift_app;
