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

function setupActivation() {
  const form = document.getElementById("activation-form");
  if (!form) return;
  const button = document.getElementById("check-activation-code");
  const confirmBox = document.getElementById("register-record");
  const confirmButton = document.getElementById("confirm-record");
  let started = null;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    button.disabled = true;
    try {
      started = await api("POST", "/api/v1/enrollment/start", {
        activation_code: form.activation_code.value,
        birth_date: form.activation_birth_date.value,
      });
      const r = started.record;
      document.getElementById("record-name").textContent = `${r.given_name} ${r.family_name}`;
      document.getElementById("record-birth-date").textContent = r.birth_date;
      document.getElementById("record-region").textContent = r.region_name;
      confirmBox.hidden = false;
      confirmButton.focus();
    } catch (err) {
      say(explain(err));
    } finally {
      button.disabled = false;
    }
  });
  confirmButton.addEventListener("click", async () => {
    say("");
    confirmButton.disabled = true;
    try {
      const cred = await navigator.credentials.create({ publicKey: creationOptions(started.publicKey) });
      await api("POST", "/api/v1/enrollment/finish", { ceremony_id: started.ceremony_id, credential: credentialJSON(cred) });
      window.location.assign(safeReturnTo(document.body.dataset.returnTo));
    } catch (err) {
      say(explain(err));
      confirmButton.disabled = false;
    }
  });
}

function setupEnroll() {
  setupActivation();
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

  const ask = document.getElementById("request-verification");
  if (ask) {
    ask.addEventListener("click", async () => {
      say("");
      ask.disabled = true;
      try {
        await api("POST", "/api/v1/me/verification");
        window.location.reload();
      } catch (err) {
        say(explain(err));
        ask.disabled = false;
      }
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

function notice(text) {
  const box = document.getElementById("notice");
  if (box) {
    box.textContent = text;
    box.hidden = !text;
  }
}

// The invitation token lives only in the URL fragment, which browsers never
// send: it is kept in this tab's session storage while the person signs in
// or enrolls, and never put into a URL the server sees.
const INVITATION_KEY = "civitas-invitation";

function setupInvitation() {
  const fromLink = window.location.hash.slice(1);
  if (fromLink) {
    sessionStorage.setItem(INVITATION_KEY, fromLink);
    history.replaceState(null, "", "/staff/invitation");
  }
  const token = sessionStorage.getItem(INVITATION_KEY) || "";
  const back = encodeURIComponent("/staff/invitation");
  for (const [id, path] of [["sign-in-first", "/login"], ["enroll-first", "/enroll"]]) {
    const link = document.getElementById(id);
    if (link) link.href = `${path}?return_to=${back}`;
  }
  const button = document.getElementById("accept-invitation");
  if (!button) return;
  if (!token) {
    say("This link has no invitation in it. Open the whole link you were given.");
    button.disabled = true;
    return;
  }
  button.addEventListener("click", async () => {
    say("");
    button.disabled = true;
    try {
      const result = await api("POST", "/api/v1/staff/invitations/accept", { token });
      sessionStorage.removeItem(INVITATION_KEY);
      const home = { admin: "/admin", registrar: "/registrar", auditor: "/admin/audit" }[result.role];
      document.getElementById("staff-home").href = home || "/account";
      document.getElementById("accepted").hidden = false;
    } catch (err) {
      say(explain(err));
      button.disabled = false;
    }
  });
}

function setupAdminStaff() {
  const form = document.getElementById("invite-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    const regions = form.regions.value.split(",").map((r) => r.trim()).filter((r) => r);
    const forId = form.for_national_id.value.replace(/\s/g, "");
    const body = { role: form.role.value, regions };
    if (forId) body.for_national_id = forId;
    try {
      const inv = await api("POST", "/api/v1/admin/invitations", body);
      document.getElementById("invitation-url").textContent = inv.url;
      document.getElementById("invitation").hidden = false;
    } catch (err) { say(explain(err)); }
  });
  for (const button of document.querySelectorAll(".revoke-role")) {
    button.addEventListener("click", async () => {
      const { nationalId, role, region } = button.dataset;
      if (!window.confirm(`Take the ${role} role${region ? ` for ${region}` : ""} away from ${nationalId}?`)) return;
      say("");
      try {
        await api("POST", "/api/v1/admin/staff/revoke", { national_id: nationalId, role, region: region || null });
        window.location.reload();
      } catch (err) { say(explain(err)); }
    });
  }
}

function setupAdminRegister() {
  const form = document.getElementById("import-form");
  const report = document.getElementById("import-report");
  const rows = document.getElementById("report-rows");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    notice("");
    report.hidden = true;
    rows.replaceChildren();
    const file = form.file.files[0];
    if (!file) { say("Choose the register file first."); return; }
    const res = await fetch("/api/v1/admin/register/imports", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "text/csv", "X-File-Name": encodeURIComponent(file.name), Accept: "text/csv, application/json" },
      body: file,
    });
    if (res.status === 201) {
      const blob = await res.blob();
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = "letters.csv";
      link.textContent = "Download the letters file";
      link.id = "letters-link";
      notice(`Imported ${res.headers.get("X-Imported-Rows")} rows. `);
      document.getElementById("notice").append(link);
      return;
    }
    let data = null;
    try { data = await res.json(); } catch (_) { data = null; }
    say((data && data.error_description) || `The import failed (${res.status}).`);
    if (data && data.errors) {
      for (const e of data.errors) {
        const tr = document.createElement("tr");
        for (const text of [String(e.line), e.reason]) {
          const td = document.createElement("td");
          td.textContent = text;
          tr.append(td);
        }
        rows.append(tr);
      }
      report.hidden = false;
    }
  });
}

function setupAdminCampaigns() {
  const form = document.getElementById("campaign-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    const number = (input) => (input.value.trim() === "" ? undefined : Number(input.value));
    const body = {
      name: form.name.value,
      regions: [...form.querySelectorAll("input[name=regions]:checked")].map((r) => r.value),
      min_age: number(form.min_age),
      target: number(form.target),
      starts_on: form.starts_on.value,
      deadline: form.deadline.value,
    };
    const id = form.dataset.campaign;
    try {
      const saved = id
        ? await api("PUT", `/api/v1/admin/campaigns/${id}`, body)
        : await api("POST", "/api/v1/admin/campaigns", body);
      window.location.assign(`/admin/campaigns/${saved.id}`);
    } catch (err) { say(explain(err)); }
  });
}

function setupRegistrar() {
  const section = document.getElementById("citizen");
  let current = null;

  function show(c) {
    current = c.national_id;
    document.getElementById("citizen-name").textContent = `${c.given_name} ${c.family_name}`;
    document.getElementById("citizen-national-id").textContent = c.national_id;
    document.getElementById("citizen-birth-date").textContent = c.birth_date;
    document.getElementById("citizen-region").textContent = c.region;
    document.getElementById("citizen-status").textContent = c.status;
    document.getElementById("citizen-level").textContent = String(c.assurance_level);
    section.hidden = false;
  }

  async function open(nationalId) {
    say("");
    notice("");
    try {
      show(await api("GET", `/api/v1/registrar/citizens/${encodeURIComponent(nationalId)}`));
      section.scrollIntoView();
    } catch (err) { say(explain(err)); }
  }

  for (const row of document.querySelectorAll("tr[data-national-id]")) {
    row.querySelector("button.open-citizen").addEventListener("click", () => open(row.dataset.nationalId));
  }
  document.getElementById("lookup-form").addEventListener("submit", (event) => {
    event.preventDefault();
    open(event.target.national_id.value);
  });

  const verify = document.getElementById("verify-form");
  verify.addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    try {
      show(await api("POST", `/api/v1/registrar/citizens/${current}/verify`, {
        evidence_type: verify.evidence_type.value,
        issuing_authority: verify.issuing_authority.value,
        document_number: verify.document_number.value,
        method: verify.method.value,
      }));
      notice("Verified: the citizen is now at assurance level 2.");
      const queued = document.querySelector(`#verification-queue tr[data-national-id="${current}"]`);
      if (queued) queued.remove();
    } catch (err) { say(explain(err)); }
  });

  for (const button of document.querySelectorAll("button.citizen-action")) {
    button.addEventListener("click", async () => {
      say("");
      const action = button.dataset.action;
      const body = action === "death"
        ? { date_of_death: document.getElementById("date-of-death").value }
        : { reason: document.getElementById("action-reason").value };
      try {
        show(await api("POST", `/api/v1/registrar/citizens/${current}/${action}`, body));
        notice(`Done: ${button.textContent}.`);
      } catch (err) { say(explain(err)); }
    });
  }

  for (const row of document.querySelectorAll("tr[data-case-id]")) {
    const id = row.dataset.caseId;
    const merge = (survivor) => async () => {
      say("");
      try {
        await api("POST", `/api/v1/registrar/duplicates/${id}/merge`, { survivor });
        window.location.reload();
      } catch (err) { say(explain(err)); }
    };
    const keepMatched = row.querySelector("button.merge-keep-matched");
    if (keepMatched) keepMatched.addEventListener("click", merge(row.dataset.matched));
    const keepDuplicate = row.querySelector("button.merge-keep-duplicate");
    if (keepDuplicate) keepDuplicate.addEventListener("click", merge(row.dataset.duplicate));
    row.querySelector("button.dismiss-case").addEventListener("click", async () => {
      const reason = window.prompt("Why are these different people?");
      if (reason === null) return;
      try {
        await api("POST", `/api/v1/registrar/duplicates/${id}/dismiss`, { reason });
        window.location.reload();
      } catch (err) { say(explain(err)); }
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "enroll") setupEnroll();
  if (page === "login") setupLogin();
  if (page === "account") setupAccount();
  if (page === "staff-invitation") setupInvitation();
  if (page === "admin-staff") setupAdminStaff();
  if (page === "admin-register") setupAdminRegister();
  if (page === "admin-campaigns") setupAdminCampaigns();
  if (page === "registrar") setupRegistrar();
});
