FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DEBUG=false \
    PORT=3002

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic only reads settings; these throwaway values satisfy the production checks.
RUN SECRET_KEY=collectstatic-only-0123456789abcdefghijklmnopqrstuvwxyz0123 ALLOWED_HOSTS=localhost \
    DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput -v0 \
    && useradd --system --uid 1000 app && chown -R app /app
USER app

EXPOSE 3002
ENTRYPOINT ["./docker-entrypoint.sh"]
CMD ["gunicorn", "analytics.wsgi", "--config", "gunicorn.conf.py"]
