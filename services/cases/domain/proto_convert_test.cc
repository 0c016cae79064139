// Rules and business hours as the API gives them: what is accepted, and
// that each refusal names the field.
#include "services/cases/domain/proto_convert.h"

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace polku::cases {
namespace {

using ::testing::HasSubstr;

v1::BusinessHours OfficeHours() {
  v1::BusinessHours hours;
  google::protobuf::TextFormat::ParseFromString(R"pb(
    time_zone: "Europe/Helsinki"
    weekly { weekday: 1 open_minute: 480 close_minute: 960 }
    weekly { weekday: 2 open_minute: 480 close_minute: 960 }
    holidays { date: "2026-06-19" name: "Juhannusaatto" }
  )pb", &hours);
  return hours;
}

std::string Refusal(const v1::BusinessHours& hours) {
  absl::Status status = ValidateBusinessHours(hours);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  return std::string(status.message());
}

TEST(ProtoConvertTest, BusinessHoursAreRefusedNamingTheField) {
  EXPECT_TRUE(ValidateBusinessHours(OfficeHours()).ok());
  v1::BusinessHours hours = OfficeHours();
  hours.set_time_zone("Europe/Espoo");
  EXPECT_THAT(Refusal(hours), HasSubstr("business_hours.time_zone"));
  hours = OfficeHours();
  hours.mutable_weekly(1)->set_close_minute(480);  // open = close
  EXPECT_THAT(Refusal(hours), HasSubstr("business_hours.weekly[1]:"));
  hours = OfficeHours();
  hours.mutable_weekly(0)->set_weekday(0);
  EXPECT_THAT(Refusal(hours), HasSubstr("business_hours.weekly[0].weekday"));
  hours = OfficeHours();
  hours.mutable_holidays(0)->set_date("19.6.2026");
  EXPECT_THAT(Refusal(hours), HasSubstr("business_hours.holidays[0].date"));
}

// An SLA without hours of its own is the store's to check against the
// tenant's calendar; hours that are given are checked here.
TEST(ProtoConvertTest, ARuleMayLeaveItsHoursToTheTenant) {
  v1::CaseRule rule;
  rule.set_journey("switching");
  rule.mutable_sla()->set_first_contact_seconds(3600);
  EXPECT_FALSE(HasBusinessHours(rule.sla()));
  EXPECT_TRUE(ValidateRule(rule).ok());
  rule.mutable_sla()->mutable_business_hours();  // present but empty
  EXPECT_FALSE(HasBusinessHours(rule.sla()));
  EXPECT_TRUE(ValidateRule(rule).ok());
  *rule.mutable_sla()->mutable_business_hours() = OfficeHours();
  EXPECT_TRUE(HasBusinessHours(rule.sla()));
  EXPECT_TRUE(ValidateRule(rule).ok());
  rule.mutable_sla()->mutable_business_hours()->set_time_zone("Mars/Base");
  absl::Status status = ValidateRule(rule);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("rule.sla.business_hours.time_zone"));
}

}  // namespace
}  // namespace polku::cases
