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

/** The object returned by Stripe(publishableKey). */
export interface StripeClient {
  initEmbeddedCheckout(options: EmbeddedCheckoutOptions): Promise<EmbeddedCheckout>;
}

export type StripeConstructor = (publishableKey: string) => StripeClient;

declare global {
  interface Window {
    Stripe?: StripeConstructor;
  }
}
