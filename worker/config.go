package worker

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"checkoutkit/worker/internal/stripeapi"
)

// Defaults for settings that have one.
const (
	// DefaultStripeJSURL is Stripe.js on the basil release train, the train that
	// stripe-go v82 (API version 2025-08-27.basil) speaks.
	DefaultStripeJSURL = "https://js.stripe.com/basil/stripe.js"
	// DefaultReturnPath is where embedded Checkout sends the shopper afterwards.
	DefaultReturnPath = "/return.html"
	// DefaultStripeTimeout bounds each Stripe call, its retry included
	// (STRIPE_TIMEOUT_MS; see internal/stripeapi/transport.go).
	DefaultStripeTimeout = stripeapi.DefaultTimeout
	// minStripeTimeout and maxStripeTimeout bound STRIPE_TIMEOUT_MS.
	minStripeTimeout = 100 * time.Millisecond
	maxStripeTimeout = 60 * time.Second
)

// Config is the worker's configuration, read once from the environment
// (wrangler vars and secrets, or .dev.vars locally).
type Config struct {
	// SecretKey is STRIPE_SECRET_KEY (sk_test_..., sk_live_... or a restricted rk_ key).
	SecretKey string
	// PublishableKey is STRIPE_PUBLISHABLE_KEY, handed to the browser by /config.
	PublishableKey string
	// APIBase is STRIPE_API_BASE: empty for Stripe itself, or the URL of
	// stripe-mock or the local sandbox.
	APIBase string
	// StripeJSURL is STRIPE_JS_URL, the Stripe.js the pages load.
	StripeJSURL string
	// PublicURL is PUBLIC_URL, the site's origin used to build return URLs.
	// Empty means the origin of the incoming request (the worker serves the site).
	PublicURL string
	// ReturnPath is RETURN_PATH, the return page's path on PublicURL.
	ReturnPath string
	// Catalog comes from CATALOG_JSON, or the bundled catalog.json.
	Catalog *Catalog
	// DefaultItem is DEFAULT_ITEM: the product an empty create request buys.
	DefaultItem string
	// AllowedOrigins is ALLOWED_ORIGINS: other sites (exact origins) whose
	// pages may call the worker, e.g. through embed.js. See cors.go.
	AllowedOrigins []string
	// AdminToken is ADMIN_TOKEN, a secret: the bearer token of the operator
	// API under /admin/ (admin.go). Empty turns that API off.
	AdminToken string
	// StripeTimeout is STRIPE_TIMEOUT_MS: how long one Stripe call (retry
	// included) may take before the shopper gets 504 stripe_timeout.
	StripeTimeout time.Duration
	// CustomerTokenSecret is CUSTOMER_TOKEN_SECRET, a secret that signs the
	// tokens naming a returning customer (payments_customer.go). Empty
	// refuses such tokens.
	CustomerTokenSecret string
	// WebhookSecret is STRIPE_WEBHOOK_SECRET (whsec_...), a secret: the
	// signing secret of the webhook endpoint (webhook.go). Empty: POST
	// /webhook answers 500 so that Stripe keeps the events until it is set.
	WebhookSecret string
	// FulfillmentURL is FULFILLMENT_WEBHOOK_URL: where the built-in
	// fulfillment hook POSTs each paid order (fulfill.go); empty: none.
	// FulfillmentSecret is FULFILLMENT_WEBHOOK_SECRET, a secret that signs
	// those POSTs (Kit-Signature); empty: unsigned.
	FulfillmentURL, FulfillmentSecret string
	// Deployment is DEPLOYMENT_ID, else PUBLIC_URL's host, else "local": the
	// marker (metadata kit_deployment) on every Checkout Session and
	// PaymentIntent this deployment creates. Sessions and intents without
	// this deployment's marker are another integration's (a Payment Link,
	// the staging deployment on the same Stripe account) and are never
	// recorded or fulfilled here.
	Deployment string
	// DeploymentFromDefault: Deployment was not set explicitly.
	DeploymentFromDefault bool
	// CheckoutExpiry is CHECKOUT_EXPIRES_MINUTES (30 to 1380, default 30):
	// how long a Checkout Session, and the stock it holds, stays open.
	CheckoutExpiry time.Duration

	// RateLimit holds the rate limits' periods (ratelimit.go).
	RateLimit RateLimitConfig
}

// Defaults and bounds of CHECKOUT_EXPIRES_MINUTES (Stripe accepts 30
// minutes to 24 hours).
const (
	DefaultCheckoutExpiry = 30 * time.Minute
	// Stripe's limit is 24 hours; a session may expire up to retryWindow
	// plus expiryMargin later than the setting (payments.go orderRef).
	maxCheckoutExpiry = 23 * time.Hour
)

// validDeployment accepts DEPLOYMENT_ID values: 1-40 of a-z, A-Z, 0-9, '.', '-', '_'.
func validDeployment(d string) bool {
	if len(d) < 1 || len(d) > 40 {
		return false
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// LoadConfig reads and validates the configuration through getenv. Errors name
// the variable at fault and never include a secret's value.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{
		SecretKey:      strings.TrimSpace(getenv("STRIPE_SECRET_KEY")),
		PublishableKey: strings.TrimSpace(getenv("STRIPE_PUBLISHABLE_KEY")),
		APIBase:        strings.TrimRight(strings.TrimSpace(getenv("STRIPE_API_BASE")), "/"),
		StripeJSURL:    strings.TrimSpace(getenv("STRIPE_JS_URL")),
		PublicURL:      strings.TrimRight(strings.TrimSpace(getenv("PUBLIC_URL")), "/"),
		ReturnPath:     strings.TrimSpace(getenv("RETURN_PATH")),
		DefaultItem:    strings.TrimSpace(getenv("DEFAULT_ITEM")),
		AdminToken:     strings.TrimSpace(getenv("ADMIN_TOKEN")),

		CustomerTokenSecret: strings.TrimSpace(getenv("CUSTOMER_TOKEN_SECRET")),
		WebhookSecret:       strings.TrimSpace(getenv("STRIPE_WEBHOOK_SECRET")),
		FulfillmentURL:      strings.TrimSpace(getenv("FULFILLMENT_WEBHOOK_URL")),
		FulfillmentSecret:   strings.TrimSpace(getenv("FULFILLMENT_WEBHOOK_SECRET")),
	}
	switch {
	case c.SecretKey == "":
		return c, fmt.Errorf("STRIPE_SECRET_KEY is not set: add it with `wrangler secret put STRIPE_SECRET_KEY` (or to .dev.vars for wrangler dev)")
	case !(strings.HasPrefix(c.SecretKey, "sk_") || strings.HasPrefix(c.SecretKey, "rk_")):
		return c, fmt.Errorf("STRIPE_SECRET_KEY must be a secret key (sk_...) or restricted key (rk_...); it looks like something else")
	}
	if c.PublishableKey != "" && !strings.HasPrefix(c.PublishableKey, "pk_") {
		return c, fmt.Errorf("STRIPE_PUBLISHABLE_KEY must start with pk_")
	}
	if c.AdminToken != "" && len(c.AdminToken) < minAdminTokenLen {
		return c, fmt.Errorf("ADMIN_TOKEN is too short: use at least %d random characters (e.g. `openssl rand -hex 32`)", minAdminTokenLen)
	}
	if c.CustomerTokenSecret != "" && len(c.CustomerTokenSecret) < minAdminTokenLen {
		return c, fmt.Errorf("CUSTOMER_TOKEN_SECRET is too short: use at least %d random characters (e.g. `openssl rand -hex 32`)", minAdminTokenLen)
	}
	if c.WebhookSecret != "" && !strings.HasPrefix(c.WebhookSecret, "whsec_") {
		return c, fmt.Errorf("STRIPE_WEBHOOK_SECRET must be a webhook signing secret (whsec_...), shown with the endpoint in Stripe's Dashboard")
	}
	if c.FulfillmentURL != "" {
		if err := checkAbsoluteURL(c.FulfillmentURL); err != nil {
			return c, fmt.Errorf("FULFILLMENT_WEBHOOK_URL: %v", err)
		}
	}
	c.StripeTimeout = DefaultStripeTimeout
	if raw := strings.TrimSpace(getenv("STRIPE_TIMEOUT_MS")); raw != "" {
		ms, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || ms < minStripeTimeout.Milliseconds() || ms > maxStripeTimeout.Milliseconds() {
			return c, fmt.Errorf("STRIPE_TIMEOUT_MS must be a whole number of milliseconds from %d to %d", minStripeTimeout.Milliseconds(), maxStripeTimeout.Milliseconds())
		}
		c.StripeTimeout = time.Duration(ms) * time.Millisecond
	}
	if c.APIBase != "" {
		if err := checkAbsoluteURL(c.APIBase); err != nil {
			return c, fmt.Errorf("STRIPE_API_BASE: %v", err)
		}
	}
	if c.StripeJSURL == "" {
		c.StripeJSURL = DefaultStripeJSURL
	} else if err := checkAbsoluteURL(c.StripeJSURL); err != nil {
		return c, fmt.Errorf("STRIPE_JS_URL: %v", err)
	}
	if c.PublicURL != "" {
		if err := checkAbsoluteURL(c.PublicURL); err != nil {
			return c, fmt.Errorf("PUBLIC_URL: %v", err)
		}
	}
	c.Deployment = strings.TrimSpace(getenv("DEPLOYMENT_ID"))
	switch {
	case c.Deployment != "":
		if !validDeployment(c.Deployment) {
			return c, fmt.Errorf("DEPLOYMENT_ID must be 1-40 characters of a-z, A-Z, 0-9, '.', '-' or '_'")
		}
	case c.PublicURL != "":
		u, _ := url.Parse(c.PublicURL)
		c.Deployment, c.DeploymentFromDefault = u.Host, true
	default:
		c.Deployment, c.DeploymentFromDefault = "local", true
	}
	c.CheckoutExpiry = DefaultCheckoutExpiry
	if raw := strings.TrimSpace(getenv("CHECKOUT_EXPIRES_MINUTES")); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || time.Duration(n)*time.Minute < DefaultCheckoutExpiry || time.Duration(n)*time.Minute > maxCheckoutExpiry {
			return c, fmt.Errorf("CHECKOUT_EXPIRES_MINUTES must be a whole number of minutes from 30 to 1380, not %q", raw)
		}
		c.CheckoutExpiry = time.Duration(n) * time.Minute
	}
	if c.ReturnPath == "" {
		c.ReturnPath = DefaultReturnPath
	} else if !strings.HasPrefix(c.ReturnPath, "/") || strings.HasPrefix(c.ReturnPath, "//") || strings.ContainsAny(c.ReturnPath, "?# \\") {
		return c, fmt.Errorf("RETURN_PATH must be a path starting with a single '/', without query or fragment")
	}
	origins, err := parseAllowedOrigins(getenv("ALLOWED_ORIGINS"))
	if err != nil {
		return c, fmt.Errorf("ALLOWED_ORIGINS: %v", err)
	}
	c.AllowedOrigins = origins
	if c.RateLimit, err = loadRateLimitConfig(getenv); err != nil { // ratelimit.go
		return c, err
	}
	if raw := getenv("CATALOG_JSON"); strings.TrimSpace(raw) != "" {
		cat, err := ParseCatalog([]byte(raw))
		if err != nil {
			return c, fmt.Errorf("CATALOG_JSON: %v", err)
		}
		c.Catalog = cat
	} else {
		c.Catalog = DefaultCatalog()
	}
	if c.DefaultItem == "" {
		c.DefaultItem = c.Catalog.Products[0].ID
	} else if _, ok := c.Catalog.Lookup(c.DefaultItem); !ok {
		return c, fmt.Errorf("DEFAULT_ITEM %q is not a product in the catalog", c.DefaultItem)
	}
	return c, nil
}

func checkAbsoluteURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return nil
}
