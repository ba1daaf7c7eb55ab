package main

// Microsoft Entra ID token rows (docs/entra.md "Token rows"). A token case
// carries "entra": {"imds": URL, "client_id": GUID or null, "resource": R}.
// The real azidentity SDK (ManagedIdentityCredential) asks the instance
// metadata service at http://169.254.169.254 for a managed-identity token;
// it has no endpoint override for IMDS, so the adapter gives the credential
// an HTTP proxy (azcore ClientOptions.Transport, an http.Transport whose
// Proxy is the run's token service): the request leaves for 169.254.169.254
// in absolute form, as it would through a VM's HTTP_PROXY, and the token
// service answers it on loopback. The token becomes the password of the
// connection's config, as pgxpool's BeforeConnect hook sets it in Azure's
// pgx sample.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

const defaultResource = "https://ossrdbms-aad.database.windows.net"

func entraToken(ctx context.Context, e map[string]any) (string, error) {
	imds, _ := e["imds"].(string)
	if imds == "" {
		return "", errors.New("adapter: bad case: entra.imds must be a URL")
	}
	proxy, err := url.Parse(imds)
	if err != nil {
		return "", errors.New("adapter: bad case: entra.imds: " + err.Error())
	}
	opts := &azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Transport: &http.Client{
				Timeout:   30 * time.Second,
				Transport: &http.Transport{Proxy: http.ProxyURL(proxy)},
			},
		},
	}
	if id, ok := e["client_id"].(string); ok && id != "" {
		opts.ID = azidentity.ClientID(id)
	}
	cred, err := azidentity.NewManagedIdentityCredential(opts)
	if err != nil {
		return "", err
	}
	resource, _ := e["resource"].(string)
	if resource == "" {
		resource = defaultResource
	}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{
		Scopes: []string{strings.TrimRight(resource, "/") + "/.default"}})
	if err != nil {
		return "", err
	}
	return tok.Token, nil
}
