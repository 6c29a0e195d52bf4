// Minimal type declarations for the parts of Stripe.js (basil train) this site
// uses. Written for this project; the @stripe/stripe-js package is not used.
//
// Stripe.js is loaded at run time from config.stripeJsUrl
// (https://js.stripe.com/basil/stripe.js in production, the local sandbox
// stand-in in offline development) and defines window.Stripe.

/** The embedded Checkout instance returned by initEmbeddedCheckout. */
export interface EmbeddedCheckout {
  /** Renders Checkout into a container (CSS selector or element). */
  mount(target: string | HTMLElement): void;
  /** Removes Checkout from the page; it can be mounted again. */
  unmount(): void;
  /** Removes Checkout and frees it; required before another init. */
  destroy(): void;
}

export interface EmbeddedCheckoutOptions {
  /** Creates a Checkout Session on our server and resolves to its client secret. */
  fetchClientSecret: () => Promise<string>;
  /** Only for return_url-less sessions (redirect_on_completion=never); unused here. */
  onComplete?: () => void;
}

/** A Stripe.js error, as returned in `{error}` results. */
export interface StripeError {
  type: string;
  code?: string;
  decline_code?: string;
  message?: string;
}

/** Options of stripe.elements() in deferred-intent mode (no client secret yet). */
export interface DeferredElementsOptions {
  mode: "payment";
  /** In the currency's minor unit; shown by wallets and BNPL methods. */
  amount: number;
  currency: string;
  /** Must match the PaymentIntent the server creates. */
  captureMethod?: "automatic" | "manual";
  setupFutureUsage?: "off_session" | "on_session";
}

/** The Payment Element. */
export interface PaymentElement {
  mount(target: string | HTMLElement): void;
  unmount(): void;
  destroy(): void;
}

/** An Elements group, from stripe.elements(). */
export interface StripeElements {
  create(type: "payment", options?: { layout?: "tabs" | "accordion" }): PaymentElement;
  /** Validates the form and collects wallet data; call before createConfirmationToken. */
  submit(): Promise<{ error?: StripeError }>;
}

export interface ConfirmationToken {
  id: string;
}

/** What Stripe.js reports about a PaymentIntent (a subset). */
export interface StripePaymentIntent {
  id: string;
  status: string;
  amount?: number;
  currency?: string;
  last_payment_error?: { code?: string; decline_code?: string; message?: string } | null;
}

/** The object returned by Stripe(publishableKey). */
export interface StripeClient {
  initEmbeddedCheckout(options: EmbeddedCheckoutOptions): Promise<EmbeddedCheckout>;
  elements(options: DeferredElementsOptions): StripeElements;
  createConfirmationToken(options: {
    elements: StripeElements;
    params?: { return_url?: string };
  }): Promise<{ confirmationToken?: ConfirmationToken; error?: StripeError }>;
  /** Runs 3-D Secure or another next action of a PaymentIntent confirmed on the server. */
  handleNextAction(options: { clientSecret: string }): Promise<{ paymentIntent?: StripePaymentIntent; error?: StripeError }>;
  retrievePaymentIntent(clientSecret: string): Promise<{ paymentIntent?: StripePaymentIntent; error?: StripeError }>;
}

export type StripeConstructor = (publishableKey: string) => StripeClient;

declare global {
  interface Window {
    Stripe?: StripeConstructor;
  }
}
