// AuditPipeline module placeholder
