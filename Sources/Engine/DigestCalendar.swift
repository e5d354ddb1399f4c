import Foundation

/// The digest's days and times in the engine's time zone: a day is
/// `YYYY-MM-DD`, its digest goes at `--digest-at`, and covers the 24 hours
/// before.
struct DigestCalendar: Sendable {
    let calendar: Calendar
    /// `--digest-at`, in minutes after midnight.
    let digestAtMinutes: Int

    /// Exactly four, two and two ASCII digits, naming a day that exists
    /// (no sign, no `2026-1-1`, no 30 February).
    static func isCalendarDay(_ day: String) -> Bool {
        let bytes = Array(day.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes.indices.allSatisfy({ $0 == 4 || $0 == 7 || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[$0]) }),
            let year = Int(day.prefix(4)), let month = Int(day.dropFirst(5).prefix(2)), let dayOfMonth = Int(day.suffix(2))
        else { return false }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: DateComponents(year: year, month: month, day: dayOfMonth)) else { return false }
        let back = calendar.dateComponents([.year, .month, .day], from: date)
        return back.year == year && back.month == month && back.day == dayOfMonth
    }

    /// `day` at `--digest-at` (through a change of hour, the calendar's
    /// nearest valid time); nil for a day that does not exist.
    func instant(on day: String) -> Date? {
        let parts = day.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3 else { return nil }
        var components = DateComponents()
        (components.year, components.month, components.day) = (parts[0], parts[1], parts[2])
        (components.hour, components.minute) = (digestAtMinutes / 60, digestAtMinutes % 60)
        guard let date = calendar.date(from: components),
            calendar.dateComponents([.year, .month, .day], from: date) == DateComponents(year: parts[0], month: parts[1], day: parts[2])
        else { return nil }
        return date
    }

    /// The 24 hours ending at `day`'s digest time (at `now` for a day without one).
    func window(of day: String, now: Date) -> DateInterval {
        let end = instant(on: day) ?? now
        return DateInterval(start: end.addingTimeInterval(-86_400), end: end)
    }

    /// The next digest time after `date`.
    func nextInstant(after date: Date) -> Date {
        let today = day(of: date)
        if let instant = instant(on: today), instant > date { return instant }
        let tomorrow = calendar.date(byAdding: .day, value: 1, to: date) ?? date.addingTimeInterval(86_400)
        return instant(on: day(of: tomorrow)) ?? tomorrow
    }

    /// The day of `date`, as `YYYY-MM-DD`.
    func day(of date: Date) -> String {
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    /// `YYYY-MM-DD HH:MM`, as the digest shows times.
    func localTime(_ date: Date) -> String {
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        return day(of: date) + String(format: " %02d:%02d", parts.hour ?? 0, parts.minute ?? 0)
    }
}
