# One image for the scale-out stack: the official Airflow image with mes-hub installed from
# the lock file. Used by docker-compose.yml for every Airflow role and for the simulators.
FROM apache/airflow:3.3.2-python3.11
USER root
COPY --chown=airflow:0 . /opt/mes-hub
USER airflow
WORKDIR /opt/mes-hub
# uv exports exactly the locked versions; Airflow itself is already in the base image.
RUN pip install --no-cache-dir uv \
 && uv export --frozen --no-dev --no-emit-project --no-hashes > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && pip install --no-cache-dir --no-deps .
ENV PYTHONPATH=/opt/mes-hub \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/mes-hub/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/mes-hub/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False
