/**
 * Amounts in a currency's ISO 4217 minor units (JPY 0 decimals, EUR 2, BHD 3), as the browser's
 * Intl data knows them, both ways, without floating point.
 */

/** Decimal places of `currency`'s minor unit. */
export function minorDigits(currency: string): number {
  return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** "12.34" in EUR -> 1234n; "500" in JPY -> 500n; more decimals than the currency has is an error. */
export function parseAmount(text: string, currency: string): bigint {
  const digits = minorDigits(currency);
  const pattern = digits === 0 ? /^(\d{1,16})$/ : new RegExp(`^(\\d{1,16})(?:\\.(\\d{1,${digits}}))?$`);
  const match = pattern.exec(text.trim());
  if (!match) {
    const example = digits === 0 ? "500" : `12.${"345".slice(0, digits)}`;
    throw new Error(`amount must look like ${example} for ${currency}, got "${text}"`);
  }
  return BigInt(match[1]!) * 10n ** BigInt(digits) + BigInt((match[2] ?? "").padEnd(digits, "0") || "0");
}

/** 1234n EUR -> "12.34 EUR"; 500n JPY -> "500 JPY". */
export function formatAmount(minor: bigint, currency: string): string {
  const digits = minorDigits(currency);
  const sign = minor < 0n ? "-" : "";
  const abs = minor < 0n ? -minor : minor;
  if (digits === 0) return `${sign}${abs} ${currency}`;
  const unit = 10n ** BigInt(digits);
  return `${sign}${abs / unit}.${String(abs % unit).padStart(digits, "0")} ${currency}`;
}
