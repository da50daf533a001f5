# One image for the scale-out stack (docker-compose.yml): every Airflow role, the ingress API, the
# SFTP server and the simulators. The base is the official Airflow image of exactly the
# apache-airflow version locked in uv.lock (tests/deploy checks the tag), so installing the lock
# never swaps the image's Airflow for another one.
FROM apache/airflow:3.3.2-python3.11

# Mount points of the stack's named volumes, owned by airflow (gid 0, as the image expects):
# Docker gives a new named volume the ownership of the folder it is mounted on, so the services
# write to their volumes without running as root.
USER root
RUN mkdir -p /opt/mes-hub/var /opt/mes-hub/sftp /opt/mes-hub/known_hosts /opt/airflow/auth \
 && chown -R airflow:0 /opt/mes-hub /opt/airflow/auth \
 && chmod -R g+rwX /opt/mes-hub /opt/airflow/auth
USER airflow
WORKDIR /opt/mes-hub

# The locked dependencies in their own layer, rebuilt only when the lock changes. uv is pinned so
# the export does not depend on the day of the build; the exported hashes make pip refuse any file
# that is not the one the lock names.
COPY --chown=airflow:0 pyproject.toml uv.lock ./
RUN pip install --no-cache-dir "uv==0.13.9" \
 && uv export --frozen --no-dev --no-emit-project > /tmp/requirements.txt \
 && pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# The project itself, for the `hub` command (`docker compose exec airflow-worker hub doctor`); its
# dependencies are in already. PYTHONPATH keeps the code running from /opt/mes-hub, where the
# paths it derives from its own location (dags/, plugins/, mappings/) exist.
COPY --chown=airflow:0 . .
RUN pip install --no-cache-dir --no-deps .
ENV PYTHONPATH=/opt/mes-hub \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/mes-hub/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/mes-hub/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False
