FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-zenhei fontconfig \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY backend backend
COPY adapters adapters
RUN pip install --no-cache-dir .
USER nobody
EXPOSE 8000
