// The console's HTTP client: the API key from sessionStorage, the classic index model (API 2025-10:
// dimension/metric/host/embed at the top level), and Pinecone error bodies turned into exceptions.
"use strict";

const KEY_STORAGE = "spruce.apiKey";
const API_VERSION = "2025-10";

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const Api = {
  key() {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  },
  setKey(value) {
    if (value) sessionStorage.setItem(KEY_STORAGE, value);
    else sessionStorage.removeItem(KEY_STORAGE);
  },
  // Called when a request is refused for want of a key: resolves once the user gave one.
  onUnauthorized: null,

  async request(method, url, body, retried) {
    const headers = { "X-Pinecone-API-Version": API_VERSION };
    const key = Api.key();
    if (key) headers["Api-Key"] = key;
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      throw new ApiError(0, "NETWORK", `cannot reach ${url}: ${err.message}`);
    }
    if (response.status === 401 && !retried && Api.onUnauthorized) {
      await Api.onUnauthorized();
      return Api.request(method, url, body, true);
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (err) {
        data = text;
      }
    }
    if (!response.ok) {
      const error = data && data.error ? data.error : {};
      throw new ApiError(response.status, error.code || String(response.status),
        error.message || `${method} ${url} answered ${response.status}`);
    }
    return data;
  },
  get(url) { return Api.request("GET", url); },
  post(url, body) { return Api.request("POST", url, body === undefined ? {} : body); },
  patch(url, body) { return Api.request("PATCH", url, body); },
  del(url) { return Api.request("DELETE", url); },

  // A GET that tells "this server has no such endpoint" (404) apart from other failures: null then.
  async optional(url) {
    try {
      return await Api.get(url);
    } catch (err) {
      if (err.status === 404 || err.status === 405 || err.status === 501) return null;
      throw err;
    }
  },

  // Data-plane URL on the index's own host (from describe_index), e.g. http://127.0.0.1:5081.
  dataUrl(host, path) {
    const base = /^https?:\/\//.test(host) ? host : `http://${host}`;
    return base.replace(/\/$/, "") + path;
  },
};

function qs(params) {
  const parts = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") continue;
    for (const item of Array.isArray(v) ? v : [v]) {
      parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(item)}`);
    }
  }
  return parts.length ? `?${parts.join("&")}` : "";
}
