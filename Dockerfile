# The free country database (CC0, ip-location-db) from the npm registry; the version is the
# Makefile's GEOIP_VERSION.
FROM node:22-slim AS geoip
ARG GEOIP_VERSION=2.3.2026061719
WORKDIR /geoip
RUN npm pack --silent @ip-location-db/geo-whois-asn-country-mmdb@${GEOIP_VERSION} \
    && tar -xzf ip-location-db-geo-whois-asn-country-mmdb-${GEOIP_VERSION}.tgz --strip-components=1 \
       package/geo-whois-asn-country.mmdb \
    && rm ip-location-db-geo-whois-asn-country-mmdb-${GEOIP_VERSION}.tgz

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DEBUG=false \
    PORT=3002 \
    GEOIP_PATH=/usr/share/geoip/geo-whois-asn-country.mmdb

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --from=geoip /geoip/geo-whois-asn-country.mmdb /usr/share/geoip/
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
