#!/bin/sh
# Apply migrations, then run the command (gunicorn by default, or e.g. a Celery worker).
set -e
if [ "${MIGRATE_ON_START:-true}" = "true" ]; then
  python manage.py migrate --noinput
fi
exec "$@"
