# The Nightshift image: Airflow 3.3 (Python 3.11) with this project installed from its pinned
# constraints. One image serves every Airflow service, the Celery workers and the MLflow server.
FROM apache/airflow:3.3.2-python3.11

ENV NIGHTSHIFT_HOME=/opt/nightshift \
    PIP_NO_CACHE_DIR=1
# Mount points of the named volumes, writable by the image's user (uid 50000, group 0): a new
# volume takes the ownership of the directory it is mounted on.
USER root
RUN mkdir -p /opt/nightshift/data /opt/airflow/auth /opt/airflow/logs /mlartifacts \
    && chown -R airflow:0 /opt/nightshift /opt/airflow/auth /opt/airflow/logs /mlartifacts \
    && chmod -R g+rwX /opt/nightshift /opt/airflow/auth /opt/airflow/logs /mlartifacts
USER airflow
WORKDIR /opt/nightshift

COPY --chown=airflow:root pyproject.toml README.md ./
COPY --chown=airflow:root requirements/ requirements/
COPY --chown=airflow:root pipelines/ pipelines/
COPY --chown=airflow:root models/ models/
COPY --chown=airflow:root api/ api/
# The constraints pin apache-airflow to the base image's version, so pip keeps it as it is.
RUN pip install -c requirements/constraints.txt -e .

COPY --chown=airflow:root dags/ dags/
COPY --chown=airflow:root plugins/ plugins/
COPY --chown=airflow:root sql/ sql/
COPY --chown=airflow:root docker/init-airflow.sh /opt/nightshift/docker/init-airflow.sh
