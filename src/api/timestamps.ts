/** Request timestamps into Dates, refusing what a Date cannot hold. */
import { timestampDate as toDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { invalidArgument } from "../ledger/ledger-error.js";

/** The instant of the request timestamp `field`; INVALID_ARGUMENT beyond what a Date holds. */
export function timestampDate(field: string, timestamp: Timestamp): Date {
  const date = toDate(timestamp);
  if (Number.isNaN(date.getTime())) throw invalidArgument(field, "is outside the range of supported instants");
  return date;
}
