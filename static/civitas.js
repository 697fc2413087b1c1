// Civitas pages: WebAuthn calls for enrollment, sign-in and passkey
// management. Plain JavaScript, no dependencies.
"use strict";

const b64url = {
  encode(buffer) {
    const bytes = new Uint8Array(buffer);
    let text = "";
    for (const b of bytes) text += String.fromCharCode(b);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  },
  decode(text) {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = b64 + "===".slice((b64.length + 3) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
  },
};

function creationOptions(json) {
  if (window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON) {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  }
  const o = structuredClone(json);
  o.challenge = b64url.decode(o.challenge);
  o.user.id = b64url.decode(o.user.id);
  o.excludeCredentials = (o.excludeCredentials || []).map((c) => ({ ...c, id: b64url.decode(c.id) }));
  return o;
}

function requestOptions(json) {
  if (window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON) {
    return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  }
  const o = structuredClone(json);
  o.challenge = b64url.decode(o.challenge);
  o.allowCredentials = (o.allowCredentials || []).map((c) => ({ ...c, id: b64url.decode(c.id) }));
  return o;
}

function credentialJSON(cred) {
  if (typeof cred.toJSON === "function") return cred.toJSON();
  const r = cred.response;
  const response = { clientDataJSON: b64url.encode(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = b64url.encode(r.attestationObject);
    response.transports = r.getTransports ? r.getTransports() : [];
  } else {
    response.authenticatorData = b64url.encode(r.authenticatorData);
    response.signature = b64url.encode(r.signature);
    if (r.userHandle) response.userHandle = b64url.encode(r.userHandle);
  }
  return {
    id: cred.id,
    rawId: b64url.encode(cred.rawId),
    type: cred.type,
    response,
    clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
  };
}

async function api(method, url, body) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  let data = null;
  if (res.status !== 204) {
    try { data = await res.json(); } catch (_) { data = null; }
  }
  if (!res.ok) {
    const message = (data && data.error_description) || `The request failed (${res.status}).`;
    throw new Error(message);
  }
  return data;
}

function say(text) {
  const box = document.getElementById("message");
  if (box) {
    box.textContent = text;
    box.hidden = !text;
  }
}

// Words for the browser's own WebAuthn errors.
function explain(err) {
  if (err && err.name === "NotAllowedError") {
    return "The passkey request was cancelled or timed out. Please try again.";
  }
  if (err && err.name === "InvalidStateError") {
    return "This device already holds a passkey for your identity.";
  }
  return (err && err.message) || "Something went wrong. Please try again.";
}

async function createPasskey(startUrl, startBody, finishUrl, extra) {
  const started = await api("POST", startUrl, startBody);
  const cred = await navigator.credentials.create({ publicKey: creationOptions(started.publicKey) });
  return api("POST", finishUrl, { ceremony_id: started.ceremony_id, credential: credentialJSON(cred), ...extra });
}

function safeReturnTo(value) {
  return value && value.startsWith("/") && !value.startsWith("//") && !value.includes("\\") ? value : "/account";
}

function setupEnroll() {
  const form = document.getElementById("enroll-form");
  const button = document.getElementById("create-passkey");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    button.disabled = true;
    const body = {
      given_name: form.given_name.value,
      family_name: form.family_name.value,
      birth_date: form.birth_date.value,
      region: form.region.value,
    };
    try {
      await createPasskey("/api/v1/enrollment/start", body, "/api/v1/enrollment/finish", {});
      window.location.assign(safeReturnTo(document.body.dataset.returnTo));
    } catch (err) {
      say(explain(err));
      button.disabled = false;
    }
  });
}

function setupLogin() {
  const button = document.getElementById("passkey-sign-in");
  const returnTo = safeReturnTo(document.body.dataset.returnTo);
  let autofill = null;

  async function signIn(mediation, signal) {
    const started = await api("POST", "/api/v1/login/start", {});
    const request = { publicKey: requestOptions(started.publicKey) };
    if (mediation) request.mediation = mediation;
    if (signal) request.signal = signal;
    const cred = await navigator.credentials.get(request);
    await api("POST", "/api/v1/login/finish", { ceremony_id: started.ceremony_id, credential: credentialJSON(cred) });
    window.location.assign(returnTo);
  }

  button.addEventListener("click", async () => {
    say("");
    // Only one WebAuthn request may be pending: cancel the autofill one first.
    if (autofill) { autofill.abort(); autofill = null; }
    button.disabled = true;
    try {
      await signIn(null, null);
    } catch (err) {
      say(explain(err));
      button.disabled = false;
    }
  });

  if (window.PublicKeyCredential && PublicKeyCredential.isConditionalMediationAvailable) {
    PublicKeyCredential.isConditionalMediationAvailable().then((available) => {
      if (!available) return;
      autofill = new AbortController();
      signIn("conditional", autofill.signal).catch((err) => {
        if (err && err.name !== "AbortError") say(explain(err));
      });
    });
  }
}

function setupAccount() {
  const nid = document.getElementById("national-id");
  const reveal = document.getElementById("reveal-national-id");
  reveal.addEventListener("click", () => {
    const shown = reveal.getAttribute("aria-pressed") === "true";
    nid.textContent = shown ? nid.dataset.masked : nid.dataset.full;
    reveal.setAttribute("aria-pressed", String(!shown));
    reveal.textContent = shown ? "Show number" : "Hide number";
  });

  document.getElementById("add-passkey").addEventListener("click", async (event) => {
    say("");
    event.target.disabled = true;
    try {
      await createPasskey("/api/v1/me/passkeys/start", {}, "/api/v1/me/passkeys/finish", {});
      window.location.reload();
    } catch (err) {
      say(explain(err));
      event.target.disabled = false;
    }
  });

  for (const row of document.querySelectorAll("tr[data-passkey-id]")) {
    const id = row.dataset.passkeyId;
    row.querySelector("button.rename-passkey").addEventListener("click", async () => {
      const name = window.prompt("New name for this passkey", row.dataset.passkeyName);
      if (name === null) return;
      try {
        await api("PATCH", `/api/v1/me/passkeys/${id}`, { name });
        window.location.reload();
      } catch (err) { say(explain(err)); }
    });
    row.querySelector("button.remove-passkey").addEventListener("click", async () => {
      try {
        await api("DELETE", `/api/v1/me/passkeys/${id}`);
        window.location.reload();
      } catch (err) { say(explain(err)); }
    });
  }

  for (const item of document.querySelectorAll("li[data-client-id]")) {
    item.querySelector("button.withdraw-app").addEventListener("click", async () => {
      try {
        await api("DELETE", `/api/v1/me/apps/${encodeURIComponent(item.dataset.clientId)}`);
        window.location.reload();
      } catch (err) { say(explain(err)); }
    });
  }

  document.getElementById("sign-out").addEventListener("click", async () => {
    try {
      await api("POST", "/api/v1/logout");
    } finally {
      window.location.assign("/login");
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "enroll") setupEnroll();
  if (page === "login") setupLogin();
  if (page === "account") setupAccount();
});
